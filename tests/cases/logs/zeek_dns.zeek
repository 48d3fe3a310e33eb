#separator \x09
#set_separator	,
#empty_field	(empty)
#unset_field	-
#path	dns
#open	2026-11-22-10-00-00
#fields	ts	uid	id.orig_h	id.orig_p	id.resp_h	id.resp_p	proto	trans_id	rtt	query	qclass	qclass_name	qtype	qtype_name	rcode	rcode_name	AA	TC	RD	RA	Z	answers	TTLs	rejected
#types	time	string	addr	port	addr	port	enum	count	interval	string	count	string	count	string	count	string	bool	bool	bool	bool	count	vector[string]	vector[interval]	bool
1795341600.123456	CHhAvVGS1DHFjwGM9	10.0.0.5	53412	10.0.0.1	53	udp	16000	0.012345	evil.example.com	1	C_INTERNET	1	A	0	NOERROR	F	F	T	T	0	cdn.evil-cdn.net,203.0.113.7	300.000000,60.000000	F
1795341601.500000	C4J4Th3PJpwUYZZ6gc	10.0.0.5	53413	10.0.0.1	53	udp	16001	0.010000	example.com	1	C_INTERNET	16	TXT	0	NOERROR	F	F	T	T	0	TXT\x2012\x20v=spf1\x20-all	60.000000	F
1795341602.000000	CtPZjS20MLrsMUOJi2	10.0.0.5	53414	10.0.0.1	53	udp	16002	-	nx.example.com	1	C_INTERNET	1	A	3	NXDOMAIN	F	F	T	F	0	-	-	F
1795341603.000000	CUM0KZ3MLUfNB0cl11	10.0.0.5	53415	10.0.0.1	53	udp	16003	0.001000	ipv6.example.com	1	C_INTERNET	28	AAAA	0	NOERROR	F	F	T	T	0	2001:db8::1,2001:db8::2	60.000000,60.000000	F
1795341604.000000	CmES5u32sYpV7JYN	10.0.0.5	53416	10.0.0.1	53	udp	16004	-	-	-	-	-	-	-	-	F	F	F	F	0	(empty)	(empty)	F
1795341605.000000	CP5VKn2ZrrmOXqYRE2	10.0.0.5	53417	10.0.0.1	53	udp	16005	0.002000	tab\x09in.example.com	1	C_INTERNET	1	A	0	NOERROR	F	F	T	T	0	192.0.2.1	60.000000	F
#close	2026-11-22-11-00-00
