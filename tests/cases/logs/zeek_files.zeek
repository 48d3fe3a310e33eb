#separator \x09
#set_separator	,
#empty_field	(empty)
#unset_field	-
#path	files
#open	2026-11-22-10-00-00
#fields	ts	fuid	uid	id.orig_h	id.orig_p	id.resp_h	id.resp_p	source	depth	analyzers	mime_type	filename	duration	local_orig	is_orig	seen_bytes	total_bytes	missing_bytes	overflow_bytes	timedout	parent_fuid	md5	sha1	sha256	extracted	extracted_cutoff	extracted_size
#types	time	string	string	addr	port	addr	port	string	count	set[string]	string	string	interval	bool	bool	count	count	count	count	bool	string	string	string	string	string	bool	count
1795341780.000000	FhZ4eX3nWfbg5JVbi	CHhAvVGS1DHFjwGM9	93.184.216.34	80	10.0.0.5	49152	HTTP	0	MD5,SHA1,SHA256	application/x-dosexec	invoice.exe	0.100000	F	F	68	68	0	0	F	-	44d88612fea8a8f36de82e1278abb02f	3395856ce81f2b7382dee72602f798b642f14140	275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f	-	-	-
1795341781.000000	FakeFuid0000000001	C4J4Th3PJpwUYZZ6gc	10.0.0.9	25025	10.0.0.25	25	SMTP	3	MD5	text/plain	-	0.000000	T	T	100	-	0	0	F	-	d41d8cd98f00b204e9800998ecf8427e	-	-	-	-	-
#close	2026-11-22-11-00-00
#separator \x09
#set_separator	,
#empty_field	(empty)
#unset_field	-
#path	files
#open	2020-01-01-00-00-00
#fields	ts	fuid	tx_hosts	rx_hosts	conn_uids	source	depth	analyzers	mime_type	filename	duration	local_orig	is_orig	seen_bytes	total_bytes	missing_bytes	overflow_bytes	timedout	parent_fuid	md5	sha1	sha256	extracted	extracted_cutoff	extracted_size
#types	time	string	set[addr]	set[addr]	set[string]	string	count	set[string]	string	string	interval	bool	bool	count	count	count	count	bool	string	string	string	string	string	bool	count
1795341782.000000	FoldFuid0000000002	203.0.113.7	10.0.0.5,10.0.0.6	CxyzUid00000001	HTTP	0	SHA1	application/pdf	report.pdf	0.010000	F	F	1000	1000	0	0	F	-	-	da39a3ee5e6b4b0d3255bfef95601890afd80709	-	-	-	-
#close	2026-11-22-11-00-00
