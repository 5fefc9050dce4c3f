import Docker from 'dockerode';
import { createDockerSandbox } from '../src/docker.ts';

const sb = createDockerSandbox({ poolSize: 0, docker: new Docker({ socketPath: '/tmp/tgd-probe/d.sock' }) });
const r = await sb.run({
  cmd: [
    'python3',
    '-c',
    'import resource,time\nprint(resource.getrlimit(resource.RLIMIT_CPU), flush=True)\nt=time.time()\nwhile time.time()-t<2.5: pass\nprint(time.process_time(), time.time()-t)',
  ],
  limits: { wallMs: 5000, cpuMs: 1000 },
});
console.log(r);
await sb.close();
