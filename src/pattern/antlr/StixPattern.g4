// STIX 2.1 patterning grammar (§9), written for Concord from the specification's prose and BNF, only to
// measure an ANTLR-generated parser against the hand-written one (pattern_antlr_benchmark). Production
// parsing is src/pattern/parser.cc. Built only when antlr4 and libantlr4-runtime-dev are installed.
grammar StixPattern;

pattern : obsFollowedBy EOF ;

obsFollowedBy : obsOr (FOLLOWEDBY obsOr)* ;
obsOr         : obsAnd (OR obsAnd)* ;
obsAnd        : obsQualified (AND obsQualified)* ;
obsQualified  : obsPrimary qualifier* ;
obsPrimary    : LBRACK cmpOr RBRACK
              | LPAREN obsFollowedBy RPAREN
              ;
qualifier     : WITHIN (IntLiteral | FloatLiteral) SECONDS
              | REPEATS IntLiteral TIMES
              | START TimestampLiteral STOP TimestampLiteral
              ;

cmpOr      : cmpAnd (OR cmpAnd)* ;
cmpAnd     : cmpPrimary (AND cmpPrimary)* ;
cmpPrimary : LPAREN cmpOr RPAREN
           | EXISTS objectPath
           | objectPath NOT? (EQ | NEQ | LT | LE | GT | GE) literal
           | objectPath NOT? IN LPAREN literal (COMMA literal)* RPAREN
           | objectPath NOT? (LIKE | MATCHES | ISSUBSET | ISSUPERSET) StringLiteral
           ;

objectPath    : Identifier COLON propertyName pathComponent* ;
propertyName  : Identifier | StringLiteral ;
pathComponent : DOT propertyName
              | LBRACK (IntLiteral | ASTERISK) RBRACK
              ;

literal : StringLiteral | IntLiteral | FloatLiteral | BoolLiteral | TimestampLiteral | HexLiteral
        | BinaryLiteral ;

AND : 'AND' ;
OR : 'OR' ;
NOT : 'NOT' ;
FOLLOWEDBY : 'FOLLOWEDBY' ;
LIKE : 'LIKE' ;
MATCHES : 'MATCHES' ;
ISSUBSET : 'ISSUBSET' ;
ISSUPERSET : 'ISSUPERSET' ;
EXISTS : 'EXISTS' ;
IN : 'IN' ;
START : 'START' ;
STOP : 'STOP' ;
SECONDS : 'SECONDS' ;
WITHIN : 'WITHIN' ;
REPEATS : 'REPEATS' ;
TIMES : 'TIMES' ;
BoolLiteral : [tT][rR][uU][eE] | [fF][aA][lL][sS][eE] ;

TimestampLiteral : 't\'' [0-9][0-9][0-9][0-9] '-' [0-9][0-9] '-' [0-9][0-9] 'T' [0-9][0-9] ':' [0-9][0-9] ':'
                   [0-9][0-9] ('.' [0-9]+)? 'Z\'' ;
HexLiteral : 'h\'' ([0-9a-fA-F][0-9a-fA-F])* '\'' ;
BinaryLiteral : 'b\'' [A-Za-z0-9+/=]* '\'' ;
StringLiteral : '\'' ('\\\'' | '\\\\' | ~['\\])* '\'' ;
FloatLiteral : [+-]? [0-9]* '.' [0-9]+ ;
IntLiteral : [+-]? ('0' | [1-9][0-9]*) ;
Identifier : [a-zA-Z_] [a-zA-Z0-9_-]* ;

EQ : '=' | '==' ;
NEQ : '!=' | '<>' ;
LT : '<' ;
LE : '<=' ;
GT : '>' ;
GE : '>=' ;
LBRACK : '[' ;
RBRACK : ']' ;
LPAREN : '(' ;
RPAREN : ')' ;
COLON : ':' ;
DOT : '.' ;
COMMA : ',' ;
ASTERISK : '*' ;
WS : [ \t\r\n\f\u000B]+ -> skip ;
