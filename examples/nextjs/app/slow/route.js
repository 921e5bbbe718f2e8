// GET /slow?ms=N answers after N ms with the pid that served it: a request that is in flight long
// enough to see what a reload or a Ctrl-C does to it.
export const dynamic = 'force-dynamic';

export async function GET(request) {
  const ms = Number(new URL(request.url).searchParams.get('ms') ?? 0);
  await new Promise((resolve) => setTimeout(resolve, ms));
  return Response.json({ pid: process.pid, worker: process.env.WARDEN_WORKER_ID ?? null });
}
