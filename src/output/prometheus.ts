// The one Prometheus text-exposition writer (format 0.0.4), behind the proxy's /metrics and
// `claw status --prometheus`. Label values can be hostile (names from the store and the config),
// so they are escaped here, once, for both.

/** Label name -> value, written in this order (label names are never integer-like, so insertion order holds). */
export type Labels = Record<string, string>;
export type Sample = [labels: Labels, value: number];

export interface MetricFamily {
  name: string;
  type: 'gauge' | 'counter';
  help: string;
  samples: Sample[];
}

const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A label value between double quotes: backslash, double quote and line feed escaped. */
export const escapeLabelValue = (value: string): string => value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/** HELP text: backslash and line feed escaped (a double quote stays as it is there). */
export const escapeHelp = (text: string): string => text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

/**
 * The exposition of the families, in their order: HELP and TYPE once per name (a family with no
 * samples still gets both), then its samples. Families named twice are written as one group (the
 * format wants every sample of a name together), with the first one's help and type.
 */
export function renderPrometheus(families: MetricFamily[]): string {
  const groups = new Map<string, MetricFamily>();
  for (const family of families) {
    if (!metricName.test(family.name)) throw new Error(`bad Prometheus metric name ${JSON.stringify(family.name)}`);
    const group = groups.get(family.name);
    if (!group) groups.set(family.name, { ...family, samples: [...family.samples] });
    else if (group.type !== family.type) throw new Error(`metric ${family.name} is both a ${group.type} and a ${family.type}`);
    else group.samples.push(...family.samples);
  }
  const out: string[] = [];
  for (const { name, type, help, samples } of groups.values()) {
    out.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) {
      const text = Object.entries(labels)
        .map(([k, v]) => {
          if (!labelName.test(k) || k.startsWith('__')) throw new Error(`bad Prometheus label name ${JSON.stringify(k)} on ${name}`);
          return `${k}="${escapeLabelValue(v)}"`;
        })
        .join(',');
      out.push(`${name}${text ? `{${text}}` : ''} ${value}`);
    }
  }
  return out.map((line) => `${line}\n`).join('');
}
