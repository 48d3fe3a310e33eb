1795341600.0	Cx	10.0.0.5
#separator \x09
#set_separator	|
#empty_field	(empty)
#unset_field	-
#path	x509
#open	2026-11-22-10-00-00
#fields	ts	san.dns	san.ip
#types	time	vector[string]	vector[addr]
1795341600.000000	a.example.com|b.example.com	192.0.2.1|192.0.2.2
1795341601.000000	only-two
1795341602.000000	c.example.com	-
