import { podSpecOf, renderOverlay, type Obj } from './kustomize.ts';

// Runs the image the way an overlay of config/kubernetes/ tells the kubelet
// to: the container test reads its podman flags from the rendered overlay
// (`kubectl kustomize`), so what was tested is what it deploys (user, read-only
// root, emptyDir /tmp, capabilities, limits, environment, args under the
// image's own entrypoint). A field this cannot mirror is an error, not
// something silently left out.

export interface ManifestPod {
  pod: Obj;
  container: Obj;
  /** The overlay's ConfigMaps by their rendered name, for envFrom configMapRef. */
  configMaps: Record<string, Record<string, string>>;
}

/** The worker's pod of an overlay's one Deployment or CronJob, as rendered. */
export function manifestPod(overlay: string, kind: 'Deployment' | 'CronJob'): ManifestPod {
  const docs = renderOverlay(overlay);
  const workloads = docs.filter((d) => d.kind === kind);
  if (workloads.length !== 1) throw new Error(`${overlay}: ${workloads.length} ${kind}s, not 1`);
  const pod = podSpecOf(workloads[0]!);
  const container = (pod.containers as Obj[]).find((c) => c.name === 'connector-sync');
  if (!container) throw new Error(`${overlay}: no container named connector-sync`);
  const configMaps = Object.fromEntries(
    docs
      .filter((d) => d.kind === 'ConfigMap')
      .map((d) => [d.metadata.name as string, (d.data ?? {}) as Record<string, string>]),
  );
  return { pod, container, configMaps };
}

export interface PodRunInputs {
  /** Host folder holding what the ConfigMap volume would hold (config.yaml). */
  configDir: string;
  /** The Secret's keys (envFrom secretRef): the Secret is never in an overlay. */
  secret: Record<string, string>;
  /** Values that differ on this machine (the Prefect URL, the port), for keys the manifest sets. */
  overrides?: Record<string, string>;
}

/** `podman run` flags (before the image) giving the container what this pod spec gives it. */
export function podmanRunFlags(
  { pod, container, configMaps }: ManifestPod,
  inputs: PodRunInputs,
): string[] {
  if (container.command !== undefined) {
    throw new Error('the manifest sets `command`, which replaces the image entrypoint (tini)');
  }
  return [
    ...securityFlags(pod.securityContext ?? {}, container.securityContext ?? {}),
    ...resourceFlags(container.resources?.limits ?? {}),
    ...volumeFlags(pod.volumes ?? [], container.volumeMounts ?? [], inputs.configDir),
    ...envFlags(container, configMaps, inputs),
  ];
}

function securityFlags(podContext: Obj, context: Obj): string[] {
  const merged = { ...podContext, ...context };
  const flags: string[] = [];
  const user = merged.runAsUser as number | undefined;
  if (user !== undefined) flags.push('--user', `${user}:${merged.runAsGroup ?? user}`);
  if (podContext.fsGroup !== undefined) flags.push('--group-add', String(podContext.fsGroup));
  if (merged.readOnlyRootFilesystem) flags.push('--read-only', '--read-only-tmpfs=false');
  if (merged.allowPrivilegeEscalation === false) flags.push('--security-opt', 'no-new-privileges');
  for (const cap of (merged.capabilities?.drop ?? []) as string[]) flags.push('--cap-drop', cap);
  if (merged.capabilities?.add) throw new Error('capabilities.add is not mirrored');
  // podman applies its default seccomp profile unless told otherwise: RuntimeDefault.
  const seccomp = merged.seccompProfile?.type as string | undefined;
  if (seccomp !== undefined && seccomp !== 'RuntimeDefault') {
    throw new Error(`seccompProfile ${seccomp} is not mirrored`);
  }
  return flags;
}

function resourceFlags(limits: Obj): string[] {
  const flags: string[] = [];
  if (limits.memory !== undefined) flags.push('--memory', `${mebibytes(limits.memory)}m`);
  if (limits.cpu !== undefined) {
    const cpu = String(limits.cpu);
    flags.push('--cpus', String(cpu.endsWith('m') ? Number(cpu.slice(0, -1)) / 1000 : Number(cpu)));
  }
  return flags;
}

function mebibytes(quantity: string): number {
  const match = /^(\d+)(Mi|Gi)$/.exec(String(quantity));
  if (!match) throw new Error(`quantity ${quantity} is not mirrored (use Mi or Gi)`);
  return Number(match[1]) * (match[2] === 'Gi' ? 1024 : 1);
}

function volumeFlags(volumes: Obj[], mounts: Obj[], configDir: string): string[] {
  const flags: string[] = [];
  for (const mount of mounts) {
    const volume = volumes.find((v) => v.name === mount.name);
    if (!volume) throw new Error(`volumeMount ${mount.name} has no volume`);
    if (volume.emptyDir) {
      // An emptyDir is a writable, executable folder; its sizeLimit caps it.
      const size = volume.emptyDir.sizeLimit
        ? `,size=${mebibytes(volume.emptyDir.sizeLimit)}m`
        : '';
      flags.push('--tmpfs', `${mount.mountPath}:rw,exec,mode=1777${size}`);
    } else if (volume.configMap) {
      flags.push('-v', `${configDir}:${mount.mountPath}:${mount.readOnly ? 'ro' : 'rw'}`);
    } else {
      throw new Error(`volume ${volume.name} is of a kind not mirrored`);
    }
  }
  return flags;
}

function envFlags(
  container: Obj,
  configMaps: ManifestPod['configMaps'],
  inputs: PodRunInputs,
): string[] {
  // As the kubelet does: envFrom first, in order, then env over it.
  const env: Record<string, string> = {};
  for (const source of (container.envFrom ?? []) as Obj[]) {
    if (source.secretRef) {
      Object.assign(env, inputs.secret);
    } else if (source.configMapRef) {
      const data = configMaps[source.configMapRef.name as string];
      if (!data)
        throw new Error(`envFrom: no ConfigMap ${source.configMapRef.name} in the overlay`);
      Object.assign(env, data);
    } else {
      throw new Error('envFrom: only secretRef and configMapRef are mirrored');
    }
  }
  for (const entry of (container.env ?? []) as Obj[]) {
    if (entry.value === undefined)
      throw new Error(`env ${entry.name}: only plain values are mirrored`);
    env[entry.name as string] = String(entry.value);
  }
  for (const [key, value] of Object.entries(inputs.overrides ?? {})) {
    if (!(key in env)) throw new Error(`override ${key}: the manifest does not set it`);
    env[key] = value;
  }
  return Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
}

/** The port a probe asks on: a named port resolves to its containerPort. */
export function probePort(container: Obj, probe: Obj): number {
  const port = probe.httpGet.port as number | string;
  if (typeof port === 'number') return port;
  const named = (container.ports as Obj[] | undefined)?.find((p) => p.name === port);
  if (!named) throw new Error(`probe port ${port} is not a named port of the container`);
  return named.containerPort as number;
}
