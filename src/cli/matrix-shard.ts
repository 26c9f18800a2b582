// `advisor matrix build-shard`: the container entrypoint of the Kubernetes Indexed Job in
// deploy/kubernetes/ (one pod per shard). Kubernetes gives each pod of an Indexed Job its index,
// 0 … completions−1, in JOB_COMPLETION_INDEX; the number of shards is not exposed to the pod, so
// the Job passes it as ADVISOR_SHARDS (equal to its completions). Pod index i builds shard i+1 of N
// — `matrix build --shard $((JOB_COMPLETION_INDEX+1))/N` — into its own database on the shared
// volume, where a restarted pod resumes it and the merge job finds it (shardDatabasePath).
import path from "node:path";
import { UsageError } from "./errors.js";
import type { MatrixBuildShardFlags } from "./matrix.js";
import type { ShardSpec } from "../matrix/grid.js";

export const INDEX_VARIABLE = "JOB_COMPLETION_INDEX";
export const SHARDS_VARIABLE = "ADVISOR_SHARDS";

const WHERE = `set by a Kubernetes Indexed Job (completionMode: Indexed) for each of its pods; elsewhere run \`advisor matrix build --shard k/N\``;

/** The shard a pod builds, from JOB_COMPLETION_INDEX (0-based) and ADVISOR_SHARDS; a UsageError naming the variable otherwise. */
export function shardFromEnv(env: NodeJS.ProcessEnv): ShardSpec {
  const rawCount = env[SHARDS_VARIABLE];
  if (rawCount === undefined || rawCount.trim() === "") {
    throw new UsageError(`${SHARDS_VARIABLE} is not set: give the number of shards N (the Job's completions)`);
  }
  if (!/^\d+$/.test(rawCount.trim()) || Number(rawCount) < 1) throw new UsageError(`${SHARDS_VARIABLE} must be an integer >= 1 (the number of shards), got ${JSON.stringify(rawCount)}`);
  const count = Number(rawCount);
  const rawIndex = env[INDEX_VARIABLE];
  if (rawIndex === undefined || rawIndex.trim() === "") throw new UsageError(`${INDEX_VARIABLE} is not set: it is ${WHERE}`);
  if (!/^\d+$/.test(rawIndex.trim())) throw new UsageError(`${INDEX_VARIABLE} must be an integer from 0 to ${count - 1}, got ${JSON.stringify(rawIndex)}`);
  const index = Number(rawIndex);
  if (index >= count) {
    throw new UsageError(`${INDEX_VARIABLE}=${index} is out of range for ${SHARDS_VARIABLE}=${count} (indexes 0 to ${count - 1}): the Job's completions and ${SHARDS_VARIABLE} must be equal`);
  }
  return { index: index + 1, count };
}

/** Where shard k of N keeps its database (its variants go beside it): `<dir>/shard-<k>-of-<N>/matrix.sqlite`. */
export function shardDatabasePath(dir: string, shard: ShardSpec): string {
  return path.join(dir, `shard-${shard.index}-of-${shard.count}`, "matrix.sqlite");
}

export async function buildShardAction(flags: MatrixBuildShardFlags, env: NodeJS.ProcessEnv): Promise<void> {
  const shard = shardFromEnv(env);
  const db = shardDatabasePath(flags.dir, shard);
  // Loaded once the environment is known to be right: a misconfigured pod fails at once.
  const { buildAction } = await import("./matrix-actions.js");
  process.stderr.write(`${INDEX_VARIABLE}=${shard.index - 1}, ${SHARDS_VARIABLE}=${shard.count}: building shard ${shard.index}/${shard.count} into ${db}\n`);
  await buildAction({
    grid: flags.grid,
    db,
    shard: `${shard.index}/${shard.count}`,
    ...(flags.workers === undefined ? {} : { workers: flags.workers }),
    ...(flags.modelsDir ? { modelsDir: flags.modelsDir } : {}),
    ...(flags.json ? { json: true } : {}),
  });
}
