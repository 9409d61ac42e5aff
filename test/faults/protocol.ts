/** Messages between the fault runner and its poller child process (Node IPC, JSON-serialisable). */

export type ParentMessage =
  /** Hold the next successful invocation between its database commit and its offset commit, and say so. */
  | { readonly type: 'arm-crash' }
  /** Stop the mapping cleanly (finish and commit the batch in flight, leave the group), then exit. */
  | { readonly type: 'stop' };

export type ChildMessage =
  | { readonly type: 'ready' }
  /** The handler returned. `late`: after its invocation had already been given up as timed out. */
  | {
      readonly type: 'result';
      readonly accepted: number;
      readonly rejected: number;
      readonly deduplicated: number;
      readonly late: boolean;
    }
  | { readonly type: 'invoke-failed'; readonly message: string }
  | { readonly type: 'timed-out'; readonly afterMs: number }
  | { readonly type: 'in-commit-window' }
  | {
      readonly type: 'stopped';
      readonly batches: number;
      readonly failedInvocations: number;
      readonly commitFailures: number;
    };
