/** Number formats the reference uses in messages and stdout lines. */

/** Python's `f"{x:.0e}"`: 1000 -> '1e+03', 1e5 -> '1e+05', 2500 -> '2e+03'. */
export function formatDoseE(x: number): string {
  if (!Number.isFinite(x)) return String(x)
  const [mantissa, exponent] = x.toExponential(0).split('e')
  const sign = exponent.startsWith('-') ? '-' : '+'
  const digits = exponent.replace(/^[+-]/, '').padStart(2, '0')
  return `${mantissa}e${sign}${digits}`
}

/** Python's repr of a float as the reference prints doses in logs: 1000 -> '1000.0'. */
export function formatPyFloat(x: number): string {
  return Number.isInteger(x) && Math.abs(x) < 1e16 ? `${x}.0` : String(x)
}

/** Python's str(bool) */
export function pyBool(b: boolean): string {
  return b ? 'True' : 'False'
}
