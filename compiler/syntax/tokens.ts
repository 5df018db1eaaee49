/** The tokens of `.hyb`. Comments go to their own group so the formatter can keep them. */
import { createToken, Lexer, type TokenType } from "chevrotain";

export const Identifier = createToken({ name: "Identifier", pattern: /[A-Za-z_][A-Za-z0-9_]*/, label: "a name" });

function keyword(word: string): TokenType {
  return createToken({ name: word[0]!.toUpperCase() + word.slice(1), pattern: new RegExp(word), longer_alt: Identifier, label: `\`${word}\`` });
}

export const Model = keyword("model");
export const True = keyword("true");
export const False = keyword("false");
export const None = keyword("none");

export const WhiteSpace = createToken({ name: "WhiteSpace", pattern: /[ \t\r\n\f\v\u00a0\ufeff]+/, group: Lexer.SKIPPED });
export const LineComment = createToken({ name: "LineComment", pattern: /\/\/[^\n\r]*/, group: "comments" });
export const BlockComment = createToken({ name: "BlockComment", pattern: /\/\*[\s\S]*?\*\//, group: "comments", line_breaks: true });
/** A `/*` with no `*\/`: swallowed to the end of the file and reported (HYB0003). */
export const UnterminatedBlockComment = createToken({ name: "UnterminatedBlockComment", pattern: /\/\*[\s\S]*/, group: "comments", line_breaks: true });

export const StringLiteral = createToken({ name: "StringLiteral", pattern: /"[^"\n\r]*"/, label: "a string" });
/** A `"` with no closing quote on its line (HYB0002). */
export const UnterminatedString = createToken({ name: "UnterminatedString", pattern: /"[^"\n\r]*/, label: "a string" });
/**
 * Numbers, with an optional leading `-` so that `d_state = -4` reaches the checker and gets
 * "must be at least 1" rather than a syntax error. Underscore placement is checked later (HYB0005).
 */
export const NumberLiteral = createToken({
  name: "NumberLiteral",
  pattern: /-?[0-9][0-9_]*(?:\.[0-9_]+)?(?:[eE][+-]?[0-9_]+)?/,
  label: "a number",
});

export const LBrace = createToken({ name: "LBrace", pattern: /\{/, label: "`{`" });
export const RBrace = createToken({ name: "RBrace", pattern: /\}/, label: "`}`" });
export const LParen = createToken({ name: "LParen", pattern: /\(/, label: "`(`" });
export const RParen = createToken({ name: "RParen", pattern: /\)/, label: "`)`" });
export const LBracket = createToken({ name: "LBracket", pattern: /\[/, label: "`[`" });
export const RBracket = createToken({ name: "RBracket", pattern: /\]/, label: "`]`" });
export const Equals = createToken({ name: "Equals", pattern: /=/, label: "`=`" });
export const Comma = createToken({ name: "Comma", pattern: /,/, label: "`,`" });
export const Colon = createToken({ name: "Colon", pattern: /:/, label: "`:`" });
export const Star = createToken({ name: "Star", pattern: /\*/, label: "`*`" });
export const Plus = createToken({ name: "Plus", pattern: /\+/, label: "`+`" });

/** Order matters: comments before anything starting with `/`, keywords before Identifier. */
export const allTokens: TokenType[] = [
  WhiteSpace,
  LineComment,
  BlockComment,
  UnterminatedBlockComment,
  StringLiteral,
  UnterminatedString,
  NumberLiteral,
  Model,
  True,
  False,
  None,
  Identifier,
  LBrace,
  RBrace,
  LParen,
  RParen,
  LBracket,
  RBracket,
  Equals,
  Comma,
  Colon,
  Star,
  Plus,
];

export const hybLexer = new Lexer(allTokens, { positionTracking: "full", ensureOptimizations: false });
