/** An error as `Name: message`, for violation and report lines. */
export const describeError = (e: unknown): string => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));
