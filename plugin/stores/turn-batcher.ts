// plugin/stores/turn-batcher.ts
// Collects the items added during one turn of the event loop and hands them over together, in the
// check phase (setImmediate): after the poll phase has run every request handler whose data came
// in, so all the decisions those requests asked for leave in one batch. A batch is handed over as
// soon as its turn ends, whether or not an earlier batch has been answered.

export class TurnBatcher<T> {
  private items: T[] = [];
  private scheduled = false;

  constructor(private readonly flush: (items: T[]) => void) {}

  add(item: T): void {
    this.items.push(item);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.run);
  }

  private readonly run = (): void => {
    this.scheduled = false;
    const items = this.items;
    this.items = [];
    this.flush(items);
  };
}
