#fields	indicator	indicator_type	meta.source	meta.desc	meta.url
first.example	Intel::DOMAIN	Concord	First (indicator--11111111-1111-4111-8111-111111111111)	-
second.example	Intel::DOMAIN	Concord	First (indicator--11111111-1111-4111-8111-111111111111)	-
third.example	Intel::DOMAIN	Concord	First (indicator--11111111-1111-4111-8111-111111111111)	-
wild.example	Intel::DOMAIN	Concord	First (indicator--11111111-1111-4111-8111-111111111111)	-
192.0.2.1	Intel::ADDR	Concord	Hosts (indicator--22222222-2222-4222-8222-222222222222)	-
192.0.2.2	Intel::ADDR	Concord	Hosts (indicator--22222222-2222-4222-8222-222222222222)	-
198.51.100.0/24	Intel::SUBNET	Concord	Hosts (indicator--22222222-2222-4222-8222-222222222222)	-
203.0.113.0/25	Intel::SUBNET	Concord	Hosts (indicator--22222222-2222-4222-8222-222222222222)	-
2001:db8::2	Intel::ADDR	Concord	Hosts (indicator--22222222-2222-4222-8222-222222222222)	-
2001:db8::3	Intel::ADDR	Concord	Hosts (indicator--22222222-2222-4222-8222-222222222222)	-
curl/7.1	Intel::SOFTWARE	Concord	indicator--33333333-3333-4333-8333-333333333333	-
Evil"Agent;	Intel::SOFTWARE	Concord	indicator--33333333-3333-4333-8333-333333333333	-
D41D8CD98F00B204E9800998ECF8427E	Intel::FILE_HASH	Concord	indicator--33333333-3333-4333-8333-333333333333	-
0cc175b9c0f1b6a831c399e269772661	Intel::FILE_HASH	Concord	indicator--33333333-3333-4333-8333-333333333333	-
