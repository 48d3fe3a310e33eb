#separator \x09
#set_separator	,
#empty_field	(empty)
#unset_field	-
#path	conn
#open	2026-11-22-10-00-00
#fields	ts	uid	id.orig_h	id.orig_p	id.resp_h	id.resp_p	proto	service	duration	orig_bytes	resp_bytes	conn_state	local_orig	local_resp	missed_bytes	history	orig_pkts	orig_ip_bytes	resp_pkts	resp_ip_bytes	tunnel_parents
#types	time	string	addr	port	addr	port	enum	string	interval	count	count	string	bool	bool	count	string	count	count	count	count	set[string]
1795341600.123456	CHhAvVGS1DHFjwGM9	10.0.0.5	49152	93.184.216.34	80	tcp	http	0.250000	512	1256	SF	T	F	0	ShADadFf	6	832	5	1524	-
1795341601.000000	C4J4Th3PJpwUYZZ6gc	2001:db8::5	49153	2001:db8::80	443	tcp	ssl	1.000000	700	3000	SF	T	F	0	ShADadFf	10	1200	8	3400	(empty)
1795341602.999999	CtPZjS20MLrsMUOJi2	10.0.0.5	0	-	0	icmp	-	-	-	-	OTH	T	F	0	-	1	28	0	0	-
#close	2026-11-22-11-00-00
