#separator \x09
#set_separator	,
#empty_field	(empty)
#unset_field	-
#path	weird
#open	2026-11-22-10-00-00
#fields	ts	uid	id.orig_h	id.orig_p	id.resp_h	id.resp_p	name	addl	notice	peer	source
#types	time	string	addr	port	addr	port	string	string	bool	string	string
1795341800.000000	CHhAvVGS1DHFjwGM9	10.0.0.5	49152	93.184.216.34	80	bad_HTTP_request	evil.example.com	F	zeek	HTTP
1795341801.000000	-	-	-	-	-	truncated_IPv6	-	F	zeek	-
#close	2026-11-22-11-00-00
