#fields	indicator	indicator_type	meta.source	meta.desc	meta.url
evil.example"; sid:1; pcre:"/x/	Intel::DOMAIN	Con"cord; \x5c\x0a	Quote"; pcre:"/x/"; sid:7; (indicator--aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa)	-
a.example\x0aalert ip any any -> any any (msg:"pwn"; sid:1;)	Intel::DOMAIN	Con"cord; \x5c\x0a	line\x0abreak (indicator--aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa)	-
nul\x00.example	Intel::DOMAIN	Con"cord; \x5c\x0a	nul\x00name (indicator--aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa)	-
b\xc3\xbccher.example	Intel::DOMAIN	Con"cord; \x5c\x0a	B\xc3\xbccher \xe2\x80\xae RTL (indicator--bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb)	-
32.1.2.0.192.rpz-ip	Intel::DOMAIN	Con"cord; \x5c\x0a	rpz trigger (indicator--bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb)	-
tab\x09here.example	Intel::DOMAIN	Con"cord; \x5c\x0a	tab\x09name (indicator--bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb)	-
\x23comment.example	Intel::DOMAIN	Con"cord; \x5c\x0a	indicator--bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb	-
-cmd|calc.example	Intel::DOMAIN	Con"cord; \x5c\x0a	=HYPERLINK("http://x","y") (indicator--bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb)	-
back\x5cslash.example	Intel::DOMAIN	Con"cord; \x5c\x0a	@SUM(1+1) (indicator--bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb)	-
evil.example/a";content:"x|00|\x5c;	Intel::URL	Con"cord; \x5c\x0a	+cmd (indicator--cccccccc-cccc-4ccc-8ccc-cccccccccccc)	-
evil.example/x\x0d\x0aHost: other	Intel::URL	Con"cord; \x5c\x0a	indicator--cccccccc-cccc-4ccc-8ccc-cccccccccccc	-
UA"; sid:1;|\x5c	Intel::SOFTWARE	Con"cord; \x5c\x0a	indicator--cccccccc-cccc-4ccc-8ccc-cccccccccccc	-
a"b.exe	Intel::FILE_NAME	Con"cord; \x5c\x0a	indicator--cccccccc-cccc-4ccc-8ccc-cccccccccccc	-
evil\x0a.exe	Intel::FILE_NAME	Con"cord; \x5c\x0a	indicator--cccccccc-cccc-4ccc-8ccc-cccccccccccc	-
a"b\x09@evil.example	Intel::EMAIL	Con"cord; \x5c\x0a	indicator--dddddddd-dddd-4ddd-8ddd-dddddddddddd	-
ok.example	Intel::DOMAIN	Con"cord; \x5c\x0a	hostile id (indicator--x"; sid:9; \x0a#)	-
\x2d	Intel::DOMAIN	Con"cord; \x5c\x0a	indicator--eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee	-
\x28empty)	Intel::URL	Con"cord; \x5c\x0a	indicator--eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee	-
