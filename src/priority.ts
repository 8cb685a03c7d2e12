export const priorities = ['urgent', 'high', 'normal', 'low'] as const;
export type PriorityName = (typeof priorities)[number];
/** 1 = urgent ... 4 = low; a smaller number ranks ahead. */
export type PriorityRank = 1 | 2 | 3 | 4;

export function parsePriority(text: string): PriorityRank | undefined {
  const value = text.trim().toLowerCase();
  const byName = priorities.indexOf(value as PriorityName);
  if (byName >= 0) return (byName + 1) as PriorityRank;
  if (/^[1-4]$/.test(value)) return Number(value) as PriorityRank;
  return undefined;
}

export function priorityName(rank: PriorityRank): PriorityName {
  return priorities[rank - 1]!;
}
