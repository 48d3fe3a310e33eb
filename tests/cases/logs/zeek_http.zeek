#separator \x09
#set_separator	,
#empty_field	(empty)
#unset_field	-
#path	http
#open	2026-11-22-10-00-00
#fields	ts	uid	id.orig_h	id.orig_p	id.resp_h	id.resp_p	trans_depth	method	host	uri	referrer	version	user_agent	origin	request_body_len	response_body_len	status_code	status_msg	info_code	info_msg	tags	username	password	proxied	orig_fuids	orig_filenames	orig_mime_types	resp_fuids	resp_filenames	resp_mime_types
#types	time	string	addr	port	addr	port	count	string	string	string	string	string	string	string	count	count	count	string	count	string	set[enum]	string	string	set[string]	vector[string]	vector[string]	vector[string]	vector[string]	vector[string]	vector[string]
1795341660.000000	CHhAvVGS1DHFjwGM9	10.0.0.5	49152	93.184.216.34	80	1	GET	www.example.com	/index.html?q=1	-	1.1	Mozilla/5.0\x09(Windows NT 10.0; Win64; x64)	-	0	1256	200	OK	-	-	(empty)	-	-	-	-	-	-	FhZ4eX3nWfbg5JVbi	-	text/html
1795341661.000000	C4J4Th3PJpwUYZZ6gc	10.0.0.5	49153	198.51.100.23	8080	1	POST	c2.bad-domain.xyz:8080	/gate.php	-	1.1	curl/8.4.0	-	0	1256	404	OK	-	-	(empty)	-	-	-	-	-	-	FhZ4eX3nWfbg5JVbi	-	text/html
1795341662.000000	CtPZjS20MLrsMUOJi2	10.0.0.5	49154	198.51.100.24	80	1	GET	198.51.100.24	/x.bin	-	1.1	-	-	0	1256	200	OK	-	-	(empty)	-	-	-	-	-	-	FhZ4eX3nWfbg5JVbi	-	text/html
1795341663.000000	CUM0KZ3MLUfNB0cl11	10.0.0.5	49155	10.0.0.8	3128	1	GET	-	http://upstream.example.org/path	-	1.1	(empty)	-	0	1256	200	OK	-	-	(empty)	-	-	-	-	-	-	FhZ4eX3nWfbg5JVbi	-	text/html
1795341664.000000	CmES5u32sYpV7JYN	10.0.0.5	49156	10.0.0.9	80	1	GET	-	/no-host	-	1.1	-	-	0	1256	200	OK	-	-	(empty)	-	-	-	-	-	-	FhZ4eX3nWfbg5JVbi	-	text/html
#close	2026-11-22-11-00-00
