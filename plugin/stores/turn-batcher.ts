// plugin/stores/turn-batcher.ts
// Collects the items added during one turn of the event loop and hands them over together, in the
// check phase (setImmediate): after the poll phase has run every request handler whose data came
// in, so all the decisions those requests asked for leave in one batch. A batch is handed over as
// soon as its turn ends, whether or not an earlier batch has been answered, or as soon as it is
// full (`fullAt`): the receiver can start on it while this turn still adds the rest.

export class TurnBatcher<T> {
  private items: T[] = [];
  private scheduled = false;

  constructor(private readonly flush: (items: T[]) => void, private readonly fullAt = Number.POSITIVE_INFINITY) {}

  add(item: T): void {
    this.items.push(item);
    if (this.items.length >= this.fullAt) {
      const full = this.items;
      this.items = [];
      this.flush(full);
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.run);
  }

  private readonly run = (): void => {
    this.scheduled = false;
    const items = this.items;
    if (items.length === 0) return;
    this.items = [];
    this.flush(items);
  };
}
