// NEXT_OUTPUT=standalone builds .next/standalone/server.js, which warden serves as a self-listening app.
// The root is this folder: the project above it has a node_modules and a lockfile of its own.
export default {
  ...(process.env.NEXT_OUTPUT === 'standalone' ? { output: 'standalone' } : {}),
  poweredByHeader: false,
  turbopack: { root: import.meta.dirname },
  outputFileTracingRoot: import.meta.dirname,
};
