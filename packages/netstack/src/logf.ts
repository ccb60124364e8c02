/** A printf-style logger, injected; the stack never writes to the console itself. */
export type Logf = (format: string, ...args: unknown[]) => void;
