/**
 * Whether a process with this pid exists (EPERM: it does, owned by someone else). Used to tell the
 * temporary files of a process that is gone (killed mid-download or mid-job) from those of a live one.
 */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
