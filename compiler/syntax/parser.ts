/**
 * The pure grammar of `.hyb` as a chevrotain CstParser (no semantics here). One instance is
 * built once and reused; errors are returned by chevrotain's recovery, never thrown.
 */
import { CstParser, EOF, type CstNode, type IRecognitionException, type IToken, type TokenType } from "chevrotain";
import * as T from "./tokens.ts";
import { messages } from "./messages.ts";

class HybParser extends CstParser {
  /** How many `(` of parenOrRatio enclose the current token (see the gate in `term`). */
  private parenDepth = 0;

  constructor() {
    super(T.allTokens, { recoveryEnabled: true, maxLookahead: 3, nodeLocationTracking: "onlyOffset", errorMessageProvider: messages });
    this.performSelfAnalysis();
  }

  file = this.RULE("file", () => {
    this.MANY(() => this.SUBRULE(this.model));
  });

  model = this.RULE("model", () => {
    this.CONSUME(T.Model);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.LBrace);
    this.MANY(() => this.SUBRULE(this.binding));
    this.CONSUME(T.RBrace);
  });

  binding = this.RULE("binding", () => {
    this.CONSUME(T.Identifier);
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expr);
  });

  /** expr := term ('+' term)* */
  expr = this.RULE("expr", () => {
    this.SUBRULE(this.term);
    this.MANY(() => {
      this.CONSUME(T.Plus);
      this.SUBRULE2(this.term);
    });
  });

  /** term := INT '*' factor | factor */
  term = this.RULE("term", () => {
    this.OPTION(() => {
      this.CONSUME(T.NumberLiteral);
      this.CONSUME(T.Star);
    });
    this.OR([{ GATE: () => !this.atNextBinding(), ALT: () => this.SUBRULE(this.factor) }]);
  });

  /**
   * A value missing at the end of a line (`a =`, `a = x +`, `a = 3 *`) before the next binding
   * `b = 2`: without this check `b` would be taken as the value, the error would land on the
   * second `=` and binding `b` would be lost. `NAME =` never starts a valid term, except as the
   * right operand of a ratio `(a : b = 3 : 1)`, hence not inside parentheses.
   */
  private atNextBinding(): boolean {
    if (this.parenDepth > 0) return false;
    const [prev, name, eq] = [this.LA(0), this.LA(1), this.LA(2)];
    return name.tokenType === T.Identifier && eq.tokenType === T.Equals && (name.startLine ?? 0) > (prev.endLine ?? Infinity);
  }

  factor = this.RULE("factor", () => {
    this.OR([
      { ALT: () => this.CONSUME(T.NumberLiteral) },
      { ALT: () => this.CONSUME(T.StringLiteral) },
      { ALT: () => this.CONSUME(T.UnterminatedString) },
      { ALT: () => this.CONSUME(T.True) },
      { ALT: () => this.CONSUME(T.False) },
      { ALT: () => this.CONSUME(T.None) },
      { ALT: () => this.SUBRULE(this.callOrRef) },
      { ALT: () => this.SUBRULE(this.list) },
      { ALT: () => this.SUBRULE(this.parenOrRatio) },
    ]);
  });

  /** IDENT | IDENT '(' args ')' */
  callOrRef = this.RULE("callOrRef", () => {
    this.CONSUME(T.Identifier);
    this.OPTION(() => {
      this.CONSUME(T.LParen);
      this.OPTION2(() => {
        this.SUBRULE(this.arg);
        this.MANY({
          GATE: () => this.LA(2).tokenType !== T.RParen,
          DEF: () => {
            this.CONSUME(T.Comma);
            this.SUBRULE2(this.arg);
          },
        });
        this.OPTION3(() => this.CONSUME2(T.Comma));
      });
      this.CONSUME(T.RParen);
    });
  });

  /** arg := IDENT '=' expr | expr */
  arg = this.RULE("arg", () => {
    this.OPTION({
      GATE: () => this.LA(1).tokenType === T.Identifier && this.LA(2).tokenType === T.Equals,
      DEF: () => {
        this.CONSUME(T.Identifier);
        this.CONSUME(T.Equals);
      },
    });
    this.SUBRULE(this.expr);
  });

  /** list := '[' (expr (',' expr)* ','?)? ']' */
  list = this.RULE("list", () => {
    this.CONSUME(T.LBracket);
    this.OPTION(() => {
      this.SUBRULE(this.expr);
      this.MANY({
        GATE: () => this.LA(2).tokenType !== T.RBracket,
        DEF: () => {
          this.CONSUME(T.Comma);
          this.SUBRULE2(this.expr);
        },
      });
      this.OPTION2(() => this.CONSUME2(T.Comma));
    });
    this.CONSUME(T.RBracket);
  });

  /**
   * '(' expr ')' | ratio, where
   * ratio := '(' expr ':' expr '=' INT ':' INT (',' 'offset' '=' INT)? ')'
   * Both start with '(' expr, so one rule decides after the first expression.
   */
  parenOrRatio = this.RULE("parenOrRatio", () => {
    this.CONSUME(T.LParen);
    this.parenDepth++;
    try {
      this.parenOrRatioBody();
    } finally {
      this.parenDepth--;
    }
    this.CONSUME(T.RParen);
  });

  private parenOrRatioBody(): void {
    this.SUBRULE(this.expr);
    this.OPTION(() => {
      this.CONSUME(T.Colon);
      this.SUBRULE2(this.expr);
      this.CONSUME(T.Equals);
      this.CONSUME(T.NumberLiteral);
      this.CONSUME2(T.Colon);
      this.CONSUME2(T.NumberLiteral);
      this.OPTION2(() => {
        this.CONSUME(T.Comma);
        this.CONSUME(T.Identifier);
        this.CONSUME2(T.Equals);
        this.CONSUME3(T.NumberLiteral);
      });
    });
  }
}

/** Built once: chevrotain's grammar analysis is the expensive part. */
export const hybParser = new HybParser();

export interface ParseOutput {
  readonly cst: CstNode;
  readonly errors: readonly IRecognitionException[];
}

export function parseTokens(tokens: IToken[]): ParseOutput {
  hybParser.input = tokens;
  const cst = hybParser.file();
  return { cst, errors: hybParser.errors };
}

export function isEof(t: IToken): boolean {
  return t.tokenType === EOF;
}

export type { TokenType };
