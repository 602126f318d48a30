/** An error a user can act on: what went wrong (the cause) and what to do about it (the fix). */
export class HaqaError extends Error {
  constructor(
    message: string,
    readonly fix: string,
    readonly code: 'usage' | 'input' | 'toolchain' | 'runtime' | 'llm' = 'runtime',
  ) {
    super(message);
    this.name = 'HaqaError';
  }

  override toString(): string {
    return `${this.message}\n  fix: ${this.fix}`;
  }
}

export function isHaqaError(e: unknown): e is HaqaError {
  return e instanceof HaqaError;
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
