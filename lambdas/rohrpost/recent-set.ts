/** A set that remembers at most `capacity` values, forgetting the oldest first. */
export class RecentSet<T> {
  private readonly values = new Set<T>();

  constructor(private readonly capacity = 10_000) {}

  has(value: T): boolean {
    return this.values.has(value);
  }

  /** Remembers a value; false when it was known already. */
  add(value: T): boolean {
    if (this.values.has(value)) return false;
    this.values.add(value);
    if (this.values.size > this.capacity) this.values.delete(this.values.values().next().value!);
    return true;
  }
}
