#separator \x09
#set_separator	,
#empty_field	(empty)
#unset_field	-
#path	ssl
#open	2026-11-22-10-00-00
#fields	ts	uid	id.orig_h	id.orig_p	id.resp_h	id.resp_p	version	cipher	curve	server_name	resumed	last_alert	next_protocol	established	ssl_history	cert_chain_fps	client_cert_chain_fps	sni_matches_cert	ja3	ja3s
#types	time	string	addr	port	addr	port	string	string	string	string	bool	string	string	bool	string	vector[string]	vector[string]	bool	string	string
1795341720.000000	CHhAvVGS1DHFjwGM9	10.0.0.5	49200	203.0.113.50	443	TLSv12	TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256	x25519	login.evil-bank.com	F	-	h2	T	CsxknGIi	8f6b3e8c7f3e4a6b1a1e2f3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7f	-	T	e7d705a3286e19ea42f587b344ee6865	f4febc55ea12b31ae17cfb7e614afda8
1795341721.000000	C4J4Th3PJpwUYZZ6gc	10.0.0.5	49201	203.0.113.51	443	TLSv13	TLS_AES_128_GCM_SHA256	x25519	-	F	-	-	T	CsiI	-	-	-	cd08e31494f9531f560d64c695473da9	-
#close	2026-11-22-11-00-00
