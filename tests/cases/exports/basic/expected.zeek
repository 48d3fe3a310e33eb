#fields	indicator	indicator_type	meta.source	meta.desc	meta.url
198.51.100.7	Intel::ADDR	Concord	C2 server (indicator--11111111-1111-4111-8111-111111111111)	-
203.0.113.0/24	Intel::SUBNET	Concord	C2 server (indicator--11111111-1111-4111-8111-111111111111)	-
2001:db8::dead:beef	Intel::ADDR	Concord	indicator--22222222-2222-4222-8222-222222222222	-
2001:db8:1::/48	Intel::SUBNET	Concord	indicator--22222222-2222-4222-8222-222222222222	-
evil.example	Intel::DOMAIN	Concord	Phishing domain (indicator--33333333-3333-4333-8333-333333333333)	-
bad-cdn.example.net	Intel::DOMAIN	Concord	Malware CDN (indicator--44444444-4444-4444-8444-444444444444)	-
evil.example:8080/gate.php?id=1	Intel::URL	Concord	Gate (indicator--55555555-5555-4555-8555-555555555555)	-
secure.example/login	Intel::URL	Concord	Gate (indicator--55555555-5555-4555-8555-555555555555)	-
d41d8cd98f00b204e9800998ecf8427e	Intel::FILE_HASH	Concord	Dropper (indicator--66666666-6666-4666-8666-666666666666)	-
da39a3ee5e6b4b0d3255bfef95601890afd80709	Intel::FILE_HASH	Concord	Dropper (indicator--66666666-6666-4666-8666-666666666666)	-
e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855	Intel::FILE_HASH	Concord	Dropper (indicator--66666666-6666-4666-8666-666666666666)	-
phish@evil.example	Intel::EMAIL	Concord	Sender (indicator--77777777-7777-4777-8777-777777777777)	-
invoice.pdf.exe	Intel::FILE_NAME	Concord	Sender (indicator--77777777-7777-4777-8777-777777777777)	-
Mozilla/4.0 (compatible; MSIE 6.0)	Intel::SOFTWARE	Concord	Bot UA (indicator--88888888-8888-4888-8888-888888888888)	-
