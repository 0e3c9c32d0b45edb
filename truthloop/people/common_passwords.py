"""The passwords guessers try first, refused when someone chooses one (compared casefolded).

Only those of eight characters or more are listed: shorter ones are refused by length anyway.
Drawn from the lists of most-used passwords that breach studies publish year after year; kept
here, in the package, so the check needs no network.
"""

from __future__ import annotations

_WORDS = """
00000000 01234567 0123456789 11111111 111111111 1111111111 11223344 112233445566 12121212
123123123 1234512345 12345678 123456789 1234567890 12345678910 123456789a 12345678a
1234567890q 123456789q 123qweasd 123qweasdzxc 1q2w3e4r 1q2w3e4r5t 1q2w3e4r5t6y 1qaz2wsx
1qaz2wsx3edc 1qazxsw2 22222222 55555555 66666666 69696969 77777777 87654321 88888888
987654321 9876543210 99999999 a1234567 a12345678 a123456789 aa123456 aa12345678 abc12345
abc123456 abcd1234 abcdefgh abcdefg1 access14 accessdenied administrator adminadmin
admin123 admin1234 alexander amanda12 asdf1234 asdfasdf asdfghjk asdfghjkl azertyuiop
babygirl1 bailey12 baseball baseball1 basketball batman12 beautiful bigdaddy blahblah
blink182 buster12 butterfly changeme changeme1 charlie1 cheese12 chelsea1 chocolate
computer computer1 cookie12 corvette creative crystal1 danielle darkness december
dolphins dragon12 elephant estrella everton1 football football1 forever1 freedom1
friends1 fuckyou1 gateway1 girlfriend hardcore hello123 hellohello hockey12 iloveyou
iloveyou1 iloveyou2 internet jackson1 jasmine1 jennifer jessica1 jordan23 juventus
killer12 letmein1 letmein123 liverpool lovelove loveyou1 m1234567 madison1 matthew1
maverick mercedes michael1 michelle midnight minecraft monkey12 mustang1 mypassword
naruto12 nicholas nothing1 p@ssw0rd p@ssword pa55word pass1234 passw0rd password
password! password1 password11 password12 password123 password1234 password2 passwords
patrick1 peaches1 penguin1 pepper12 phoenix1 playstation pokemon1 poohbear princess
princess1 q1w2e3r4 q1w2e3r4t5 q1w2e3r4t5y6 qazwsxedc qwe12345 qwer1234 qwerty12
qwerty123 qwerty1234 qwertyui qwertyuiop rainbow1 samantha secret12 security shadow12
snoopy12 soccer12 starwars starwars1 summer12 sunshine sunshine1 superman superman1
taylor12 thomas12 thunder1 tigger12 trustno1 truthloop twilight unicorn1 welcome1
welcome12 welcome123 whatever whatever1 william1 winter12 xxxxxxxx yankees1 zaq12wsx
zxcvbnm1 zxcvbnm123 zxcvbnmm 1password abcd12345 changeit letmeinnow qwertyqwerty
aaaaaaaa asdfqwer 147258369 159753456 741852963 963852741 qweasdzxc 1234qwer 12qwaszx
q1w2e3r4t5y6u7 zaq1zaq1 zaq1xsw2 1234abcd passpass testtest test1234 test12345 guest123
user1234 root1234 adminpass mustang123 master12 masterkey
"""

COMMON_PASSWORDS = frozenset(_WORDS.split())
