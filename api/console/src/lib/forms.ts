/** Reading submitted forms. */

/** The trimmed text of field `name`; '' when absent (or a file). */
export function field(form: FormData, name: string): string {
  const value = form.get(name);
  return typeof value === 'string' ? value.trim() : '';
}
