/** Parser error messages in the words of the language, not of the grammar engine. */
import { EOF, type IParserErrorMessageProvider, type IToken, type TokenType } from "chevrotain";

export function describeToken(t: IToken): string {
  if (t.tokenType === EOF) return "end of file";
  const image = t.image.length > 24 ? `${t.image.slice(0, 21)}...` : t.image;
  return `\`${image}\``;
}

function labelOf(t: TokenType): string {
  return t.LABEL ?? t.name;
}

/** What each rule expects, for "expected X" when no single token is expected. */
const RULE_EXPECTS: Record<string, string> = {
  file: "`model`",
  model: "a binding `name = value` or `}`",
  binding: "a binding `name = value`",
  expr: "a value",
  term: "a value (a number, string, name, call, list or ratio)",
  factor: "a value (a number, string, name, call, list or ratio)",
  callOrRef: "a name",
  arg: "an argument",
  list: "a list item or `]`",
  parenOrRatio: "an expression",
};

function uniqueLabels(paths: TokenType[][][]): string[] {
  const out = new Set<string>();
  for (const alt of paths) for (const path of alt) if (path[0]) out.add(labelOf(path[0]));
  return [...out];
}

function oneOf(labels: string[]): string {
  if (labels.length <= 1) return labels[0] ?? "something else";
  return `${labels.slice(0, -1).join(", ")} or ${labels[labels.length - 1]}`;
}

export const messages: IParserErrorMessageProvider = {
  buildMismatchTokenMessage({ expected, actual }) {
    // EOF is expected only after the last model (chevrotain's recovery in `file`'s repetition).
    const what = expected === EOF ? "`model` or end of file" : labelOf(expected);
    return `expected ${what}, found ${describeToken(actual)}`;
  },
  buildNotAllInputParsedMessage({ firstRedundant }) {
    return `expected \`model\` or end of file, found ${describeToken(firstRedundant)}`;
  },
  buildNoViableAltMessage({ expectedPathsPerAlt, actual, ruleName }) {
    const first = actual[0]!;
    const expects = RULE_EXPECTS[ruleName] ?? oneOf(uniqueLabels(expectedPathsPerAlt));
    return `expected ${expects}, found ${describeToken(first)}`;
  },
  buildEarlyExitMessage({ expectedIterationPaths, actual, ruleName }) {
    const first = actual[0]!;
    const expects = RULE_EXPECTS[ruleName] ?? oneOf(uniqueLabels([expectedIterationPaths]));
    return `expected ${expects}, found ${describeToken(first)}`;
  },
};
