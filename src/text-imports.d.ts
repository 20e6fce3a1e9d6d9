// Files imported `with { type: "text" }` (the persona YAML) are their text.
declare module "*.yaml" {
  const text: string;
  export default text;
}
