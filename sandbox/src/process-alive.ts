/**
 * Whether a process with this pid exists on this host (EPERM: it does, under another user). Both
 * backends use it to reclaim what a dead ToolGym process left behind (cgroups, containers).
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
