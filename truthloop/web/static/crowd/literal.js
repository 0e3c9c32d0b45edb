// Attribute values as task templates write them. AWS's reference asks for JSON, but its own
// samples write `labels="['Cat', 'Dog']"`, `exclusion-category="{ text: 'None of the above' }"`
// and Liquid-built `initial-value="[ { label: "Dog", left: 3, }, ]"`: single quotes, bare
// keys, trailing commas. JSON is tried first; otherwise a small literal reader takes arrays,
// objects, strings in either quote, numbers, and true/false/null (Python's True/False/None
// too). It builds data only: nothing is ever evaluated.

export function parseLiteral(text) {
  const source = String(text ?? "").trim();
  if (!source) return undefined;
  try {
    return JSON.parse(source);
  } catch {
    return new Reader(source).document();
  }
}

// A list of strings from an attribute or a property: an array as is, a literal, or failing
// those one comma-separated line.
export function parseList(value) {
  if (value === null || value === undefined) return [];
  if (Array.isArray(value)) return value.map(String);
  let parsed;
  try {
    parsed = parseLiteral(value);
  } catch {
    parsed = String(value).split(",");
  }
  if (parsed === undefined) return [];
  if (!Array.isArray(parsed)) parsed = [parsed];
  return parsed.map((item) => String(item).trim()).filter((item) => item.length > 0);
}

const WORDS = { true: true, false: false, null: null, True: true, False: false, None: null, undefined: null };
const ESCAPES = { n: "\n", t: "\t", r: "\r", b: "\b", f: "\f", v: "\v", 0: "\0" };

class Reader {
  constructor(text) {
    this.text = text;
    this.at = 0;
  }

  fail(what) {
    throw new SyntaxError(`${what} at character ${this.at + 1} of ${JSON.stringify(this.text.slice(0, 80))}`);
  }

  space() {
    while (this.at < this.text.length && /\s/.test(this.text[this.at])) this.at += 1;
  }

  peek() {
    this.space();
    return this.text[this.at];
  }

  document() {
    const value = this.value();
    if (this.peek() !== undefined) this.fail("unexpected text");
    return value;
  }

  value() {
    const c = this.peek();
    if (c === "[") return this.list();
    if (c === "{") return this.object();
    if (c === "'" || c === '"') return this.string();
    if (c !== undefined && /[-+.0-9]/.test(c)) return this.number();
    const word = this.word();
    if (word in WORDS) return WORDS[word];
    return this.fail(word ? `unknown word ${word}` : "a value expected");
  }

  list() {
    const items = [];
    this.at += 1;
    for (;;) {
      const c = this.peek();
      if (c === "]") {
        this.at += 1;
        return items;
      }
      items.push(this.value());
      this.separator("]");
    }
  }

  object() {
    const result = {};
    this.at += 1;
    for (;;) {
      const c = this.peek();
      if (c === "}") {
        this.at += 1;
        return result;
      }
      const key = c === "'" || c === '"' ? this.string() : this.word();
      if (!key) this.fail("a key expected");
      if (this.peek() !== ":") this.fail("':' expected");
      this.at += 1;
      result[key] = this.value();
      this.separator("}");
    }
  }

  separator(close) {
    const c = this.peek();
    if (c === ",") this.at += 1;
    else if (c !== close) this.fail(`',' or '${close}' expected`);
  }

  word() {
    const match = /^[A-Za-z_$][\w$-]*/.exec(this.text.slice(this.at));
    if (!match) return "";
    this.at += match[0].length;
    return match[0];
  }

  number() {
    const match = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?/.exec(this.text.slice(this.at));
    if (!match) this.fail("a number expected");
    this.at += match[0].length;
    return Number(match[0]);
  }

  string() {
    const quote = this.text[this.at];
    let out = "";
    this.at += 1;
    while (this.at < this.text.length) {
      const c = this.text[this.at];
      this.at += 1;
      if (c === quote) return out;
      if (c !== "\\") {
        out += c;
        continue;
      }
      const e = this.text[this.at];
      this.at += 1;
      if (e === "u") {
        out += String.fromCharCode(parseInt(this.text.slice(this.at, this.at + 4), 16));
        this.at += 4;
      } else {
        out += e in ESCAPES ? ESCAPES[e] : e;
      }
    }
    return this.fail("unterminated string");
  }
}
