// Which parts of the app each role sees. The server enforces the same rules; this only hides
// what a role could not use anyway.

export const SECTIONS = [
  { key: "studio", label: "Fan studio", href: "#/studio", roles: ["fan", "admin"] },
  { key: "purchases", label: "My purchases", href: "#/purchases", roles: ["fan", "admin"] },
  { key: "finance", label: "Finance", href: "#/finance", roles: ["finance", "admin"] },
  { key: "catalog", label: "Catalog", href: "#/catalog", roles: ["finance"] },
  { key: "console", label: "Artist console", href: "#/console", roles: ["artist", "admin"] },
  { key: "audit", label: "Audit log", href: "#/audit", roles: ["admin"] },
];

export function sectionsFor(user) {
  return user ? SECTIONS.filter((s) => s.roles.includes(user.role)) : [];
}

export function mayOpen(user, sectionKey) {
  return sectionsFor(user).some((s) => s.key === sectionKey);
}

/** Where a role lands after logging in. */
export function homeFor(user) {
  const [first] = sectionsFor(user);
  return first ? first.href : "#/login";
}
