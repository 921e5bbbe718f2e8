export function dashboardPage(): string { return '<html></html>'; }
