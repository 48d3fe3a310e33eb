#separator \x09
#set_separator	,
#empty_field	(empty)
#unset_field	-
#path	x509
#open	2026-11-22-10-00-00
#fields	ts	fingerprint	certificate.version	certificate.serial	certificate.subject	certificate.issuer	certificate.not_valid_before	certificate.not_valid_after	certificate.key_alg	certificate.sig_alg	certificate.key_type	certificate.key_length	certificate.exponent	certificate.curve	san.dns	san.uri	san.email	san.ip	basic_constraints.ca	basic_constraints.path_len	host_cert	client_cert
#types	time	string	count	string	string	string	time	time	string	string	string	count	string	string	vector[string]	vector[string]	vector[string]	vector[addr]	bool	count	bool	bool
1795341720.100000	8f6b3e8c7f3e4a6b1a1e2f3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7f	3	04A1B2C3D4E5F6071829	CN=login.evil-bank.com	CN=R3,O=Let's Encrypt,C=US	1790812800.000000	1798588800.000000	rsaEncryption	sha256WithRSAEncryption	rsa	2048	65537	-	login.evil-bank.com,www.evil-bank.com,*.evil-bank.com	-	admin@evil-bank.com	203.0.113.50,2001:db8::50	F	-	T	F
1795341721.100000	aa	3	00FF	CN=R3\x2cO=Let's Encrypt	CN=ISRG Root X1	1600000000.000000	1900000000.000000	rsaEncryption	sha256WithRSAEncryption	rsa	2048	65537	-	(empty)	-	-	-	T	0	F	F
#close	2026-11-22-11-00-00
