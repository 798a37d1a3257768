/** Command-line options shared by every scenario. */
export interface BenchOptions {
  /** Rounds of each interleaved comparison; the median is reported. */
  rounds: number;
  /** Operations per measured run; each scenario has its own default. */
  count?: number;
  /** Events in the log of the rebuild scenario. */
  events?: number;
  /** Containers of the snapshot, memory and list scenarios. */
  containers?: number;
  /** ctrmeta instances of the cluster scenario; default 3. */
  instances?: number;
  /** Short runs for CI: fewer operations and smaller states. */
  quick: boolean;
}
