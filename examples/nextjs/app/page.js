export const dynamic = 'force-dynamic';

export default function Home() {
  return <main>Served by worker {process.env.WARDEN_WORKER_ID ?? '-'} (pid {process.pid})</main>;
}
