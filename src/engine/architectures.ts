// The zoo's architecture names, without TensorFlow, so the CLI can validate them cheaply.
// lenet300, lenet5, convnet: Fashion-MNIST sized (28×28×1); resnet8, vgg11: CIFAR sized (32×32×3),
// the CIFAR-10 networks of Merkle et al. (models.ts has their layers and parameter counts).
export const ARCHITECTURES = ["lenet300", "lenet5", "convnet", "resnet8", "vgg11"] as const;
export type Architecture = (typeof ARCHITECTURES)[number];

export interface ModelSpec {
  architecture: Architecture;
  inputShape: [number, number, number];
  numClasses: number;
  seed: number;
  /**
   * Channel multiplier of resnet8 and vgg11 (default 1): every conv layer gets
   * max(1, round(width × its filters)). Smaller widths train faster on a CPU; the zoo's models
   * (and the matrix's) are width 1. The other architectures ignore it.
   */
  width?: number;
}

export class UnknownArchitectureError extends Error {
  override name = "UnknownArchitectureError";
}

export function parseArchitecture(name: string): Architecture {
  if ((ARCHITECTURES as readonly string[]).includes(name)) return name as Architecture;
  throw new UnknownArchitectureError(`unknown architecture "${name}" (known: ${ARCHITECTURES.join(", ")})`);
}
