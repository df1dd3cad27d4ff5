/** Fixtures shared by the matrix DSL and solver tests. */
import type { MatrixSetDefinition } from '../../src/core/matrix-dsl.ts';

/** Go's productDefinition helper: target & (model-0-0 | … ) & … */
export function productDefinition(dimensions: number, choices: number): { definition: MatrixSetDefinition; models: string[] } {
  const models = ['target'];
  const groups: string[] = [];
  for (let d = 0; d < dimensions; d++) {
    const alternatives = Array.from({ length: choices }, (_, c) => `model-${d}-${c}`);
    models.push(...alternatives);
    groups.push(`(${alternatives.join(' | ')})`);
  }
  return { definition: { name: 'large', dsl: `target & ${groups.join(' & ')}` }, models };
}
