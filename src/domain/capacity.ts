/** Capacity math for /scheduler/available rows. */

export interface CapacityRow {
  email: string;
  maxJobs: number;
  executing: number;
  available: number;
}

export function capacityRow(email: string, maxJobs: number, executing: number): CapacityRow {
  return { email, maxJobs, executing, available: Math.max(0, maxJobs - executing) };
}
