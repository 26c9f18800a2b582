// The zoo's architecture names, without TensorFlow, so the CLI can validate them cheaply.
export const ARCHITECTURES = ["lenet300", "lenet5", "convnet"] as const;
export type Architecture = (typeof ARCHITECTURES)[number];

export interface ModelSpec {
  architecture: Architecture;
  inputShape: [number, number, number];
  numClasses: number;
  seed: number;
}

export class UnknownArchitectureError extends Error {
  override name = "UnknownArchitectureError";
}

export function parseArchitecture(name: string): Architecture {
  if ((ARCHITECTURES as readonly string[]).includes(name)) return name as Architecture;
  throw new UnknownArchitectureError(`unknown architecture "${name}" (known: ${ARCHITECTURES.join(", ")})`);
}
