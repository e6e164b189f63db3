/** File-layout names shared by phase C (generate) and phase D (overlap). */
export const SPLITS = ['train', 'test'] as const
export type Split = (typeof SPLITS)[number]

/** `dose_{int(d)}`, the reference's folder name for a dose */
export function doseDirName(dose: number): string {
  return `dose_${Math.trunc(dose)}`
}
