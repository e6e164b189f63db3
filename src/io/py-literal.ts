/**
 * A small, strict parser for the Python literal subset numpy writes in a .npy header:
 * dicts, tuples, lists, str (single or double quoted, with escapes), int, True/False/None.
 * No eval. Depth and length are bounded so a hostile header cannot exhaust the stack.
 */

export type PyValue = string | number | boolean | null | PyValue[] | PyDict
export interface PyDict {
  readonly __dict: Map<string, PyValue>
}

export class PyLiteralError extends Error {}

const MAX_DEPTH = 32

export function isPyDict(v: PyValue): v is PyDict {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && '__dict' in v
}

/** Parse one Python literal; trailing whitespace is allowed, anything else is an error. */
export function parsePyLiteral(text: string): PyValue {
  let i = 0
  const n = text.length

  const fail = (what: string): never => {
    const near = text.slice(Math.max(0, i - 10), i + 10)
    throw new PyLiteralError(`${what} at character ${i} (near ${JSON.stringify(near)})`)
  }
  const ws = () => {
    while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++
  }

  const parseString = (): string => {
    const quote = text[i]
    i++
    let out = ''
    while (true) {
      if (i >= n) fail('unterminated string')
      const c = text[i]
      if (c === quote) {
        i++
        return out
      }
      if (c === '\n') fail('newline in string')
      if (c === '\\') {
        const e = text[i + 1]
        i += 2
        switch (e) {
          case '\\':
            out += '\\'
            break
          case "'":
            out += "'"
            break
          case '"':
            out += '"'
            break
          case 'n':
            out += '\n'
            break
          case 't':
            out += '\t'
            break
          case 'r':
            out += '\r'
            break
          case '0':
            out += '\0'
            break
          case 'x':
          case 'u':
          case 'U': {
            const len = e === 'x' ? 2 : e === 'u' ? 4 : 8
            const hex = text.slice(i, i + len)
            if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(hex)) fail(`bad \\${e} escape`)
            const cp = Number.parseInt(hex, 16)
            if (cp > 0x10ffff) fail('code point out of range')
            out += String.fromCodePoint(cp)
            i += len
            break
          }
          default:
            fail(`unsupported escape \\${e ?? ''}`)
        }
        continue
      }
      out += c
      i++
    }
  }

  const parseSeq = (close: string, depth: number): PyValue[] => {
    const items: PyValue[] = []
    ws()
    if (text[i] === close) {
      i++
      return items
    }
    while (true) {
      items.push(parseValue(depth + 1))
      ws()
      if (text[i] === ',') {
        i++
        ws()
        if (text[i] === close) {
          i++
          return items
        }
        continue
      }
      if (text[i] === close) {
        i++
        return items
      }
      fail(`expected ',' or '${close}'`)
    }
  }

  const parseDict = (depth: number): PyDict => {
    const map = new Map<string, PyValue>()
    ws()
    if (text[i] === '}') {
      i++
      return {__dict: map}
    }
    while (true) {
      ws()
      if (text[i] !== "'" && text[i] !== '"') fail('expected a string key')
      const key = parseString()
      if (map.has(key)) fail(`duplicate key '${key}'`)
      ws()
      if (text[i] !== ':') fail("expected ':'")
      i++
      map.set(key, parseValue(depth + 1))
      ws()
      if (text[i] === ',') {
        i++
        ws()
        if (text[i] === '}') {
          i++
          return {__dict: map}
        }
        continue
      }
      if (text[i] === '}') {
        i++
        return {__dict: map}
      }
      fail("expected ',' or '}'")
    }
  }

  const parseValue = (depth: number): PyValue => {
    if (depth > MAX_DEPTH) fail('nesting too deep')
    ws()
    if (i >= n) fail('unexpected end')
    const c = text[i]
    if (c === '{') {
      i++
      return parseDict(depth)
    }
    if (c === '(') {
      i++
      // A parenthesised single value without a comma is just that value in Python; numpy never writes it
      // for shapes, but accept it the way Python would.
      const start = i
      const items = parseSeq(')', depth)
      const inner = text.slice(start, i - 1).trim()
      if (items.length === 1 && !inner.endsWith(',')) return items[0]!
      return items
    }
    if (c === '[') {
      i++
      return parseSeq(']', depth)
    }
    if (c === "'" || c === '"') return parseString()
    const m = /^(-?\d+)L?|^(True|False|None)\b/.exec(text.slice(i, i + 40))
    if (m) {
      i += m[0].length
      if (m[2] === 'True') return true
      if (m[2] === 'False') return false
      if (m[2] === 'None') return null
      const v = Number(m[1])
      if (!Number.isSafeInteger(v)) fail('integer too large')
      return v
    }
    return fail('unexpected character')
  }

  const value = parseValue(0)
  ws()
  if (i !== n) fail('trailing characters')
  return value
}
