// What the router holds: the page shown, refreshed by every poll until another replaces it.
export interface View {
  /** read the API and redraw what changed */
  refresh(): Promise<void>;
  /** the API could not be read: say so */
  fail(err: Error): void;
  /** free what the view holds (charts) before another replaces it */
  destroy?(): void;
}
