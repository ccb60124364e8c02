export interface Graph {
  packages: Record<string, { workspace: string[]; external: string[] }>;
}
export function importsOf(text: string): string[];
export function packageNameOf(spec: string): string;
export function checkDeps(root: string, graph: Graph): string[];
