import type { Artifacts, BuildInfo } from "hardhat/types";

/**
 * Reads what the agents must agree with the contracts on straight from the compiler's output
 * (the Solidity AST in Hardhat's build info), so nothing is hand-mirrored:
 * - every enum declared under `contracts/` (value names in declaration order, their `///` docs);
 * - every EIP-712 type string a contract hashes (a `bytes32 constant …TYPEHASH =
 *   keccak256("…")`), parsed into viem's typed-data field lists;
 * - the JavaScript shape of every struct such a type names, with its members' `///` docs.
 * Used by `writeAbiModule` to write `actors-ts/chain/generated/types.ts`.
 */

interface AstNode {
  nodeType: string;
  name?: string;
  src?: string;
  nodes?: AstNode[];
  members?: AstNode[];
  value?: AstNode | string;
  constant?: boolean;
  expression?: AstNode;
  arguments?: AstNode[];
  kind?: string;
  typeDescriptions?: { typeString?: string };
  documentation?: { text?: string } | null;
}

/** One enum: `names[i]` is the name of value `i`. */
export interface SolidityEnum {
  name: string;
  source: string;
  doc: string;
  names: { name: string; doc: string }[];
}

/** One EIP-712 type string as the contract hashes it, parsed. */
export interface TypeHash {
  /** `Library.CONSTANT` or `Contract.CONSTANT`. */
  constant: string;
  source: string;
  typeString: string;
  primaryType: string;
  /** Every struct in the type string, primary first, in viem's `types` shape. */
  types: Record<string, { name: string; type: string }[]>;
}

/** A struct's members with their `///` docs (for the generated interfaces). */
export interface SolidityStruct {
  name: string;
  source: string;
  doc: string;
  members: { name: string; type: string; doc: string }[];
}

export interface SolidityTypes {
  enums: SolidityEnum[];
  typeHashes: TypeHash[];
  structs: Map<string, SolidityStruct>;
}

function walk(node: AstNode, visit: (node: AstNode, scope: string | undefined) => void, scope?: string): void {
  visit(node, scope);
  const inner = node.nodeType === "ContractDefinition" ? node.name : scope;
  for (const child of node.nodes ?? []) walk(child, visit, inner);
}

/** The `///` comment lines written just above byte offset `start` of `content`, joined. */
function docAbove(content: Buffer, start: number): string {
  const lines = content.subarray(0, start).toString("utf8").split("\n");
  lines.pop(); // the declaration's own line
  const doc: string[] = [];
  while (lines.length > 0 && lines[lines.length - 1].trim().startsWith("///")) {
    doc.unshift(
      lines
        .pop()!
        .trim()
        .replace(/^\/\/\/\s?/, "")
        .replace(/^@(dev|notice)\s+/, ""),
    );
  }
  return doc.join(" ").trim();
}

function natspec(node: AstNode): string {
  return (node.documentation?.text ?? "")
    .split("\n")
    .map((l) => l.trim().replace(/^@(dev|notice)\s+/, ""))
    .join(" ")
    .trim();
}

/** Parses `A(uint256 x,B b)B(bytes32 y)` into `{ A: [...], B: [...] }` (EIP-712 encodeType). */
export function parseTypeString(typeString: string): Record<string, { name: string; type: string }[]> {
  const types: Record<string, { name: string; type: string }[]> = {};
  const re = /([A-Za-z_][A-Za-z0-9_]*)\(([^)]*)\)/g;
  let consumed = 0;
  for (const m of typeString.matchAll(re)) {
    if (m.index !== consumed) throw new Error(`unexpected text in EIP-712 type string: ${typeString}`);
    consumed += m[0].length;
    types[m[1]] =
      m[2] === ""
        ? []
        : m[2].split(",").map((field) => {
            const [type, name, ...rest] = field.trim().split(/\s+/);
            if (!type || !name || rest.length > 0) throw new Error(`bad field "${field}" in ${typeString}`);
            return { name, type };
          });
  }
  if (consumed !== typeString.length || consumed === 0) throw new Error(`not an EIP-712 type string: ${typeString}`);
  return types;
}

/** Collects enums, EIP-712 type strings and structs from the build info of `contracts/`. */
export function readSolidityTypes(buildInfos: BuildInfo[]): SolidityTypes {
  const enums = new Map<string, SolidityEnum>();
  const typeHashes = new Map<string, TypeHash>();
  const structs = new Map<string, SolidityStruct>();
  for (const info of buildInfos) {
    for (const [source, output] of Object.entries(info.output.sources)) {
      if (!source.startsWith("contracts/") || source.startsWith("contracts/test/")) continue;
      const content = Buffer.from(info.input.sources[source]?.content ?? "", "utf8");
      walk(output.ast as AstNode, (node, scope) => {
        if (node.nodeType === "EnumDefinition" && node.name && !scope) {
          enums.set(node.name, {
            name: node.name,
            source,
            doc: natspec(node),
            names: (node.members ?? []).map((m) => ({
              name: m.name!,
              doc: docAbove(content, Number(m.src!.split(":")[0])),
            })),
          });
        }
        if (node.nodeType === "StructDefinition" && node.name && !scope) {
          structs.set(node.name, {
            name: node.name,
            source,
            doc: natspec(node),
            members: (node.members ?? []).map((m) => ({
              name: m.name!,
              type: m.typeDescriptions?.typeString ?? "",
              doc: docAbove(content, Number(m.src!.split(":")[0])),
            })),
          });
        }
        const call = node.value as AstNode | undefined;
        if (
          node.nodeType === "VariableDeclaration" &&
          node.constant &&
          node.name?.endsWith("TYPEHASH") &&
          call?.nodeType === "FunctionCall" &&
          call.expression?.name === "keccak256" &&
          call.arguments?.[0]?.nodeType === "Literal"
        ) {
          const typeString = call.arguments[0].value as string;
          const types = parseTypeString(typeString);
          typeHashes.set(`${scope}.${node.name}`, {
            constant: `${scope}.${node.name}`,
            source,
            typeString,
            primaryType: Object.keys(types)[0],
            types,
          });
        }
      });
    }
  }
  return {
    enums: [...enums.values()].sort((a, b) => a.name.localeCompare(b.name)),
    typeHashes: [...typeHashes.values()].sort((a, b) => a.primaryType.localeCompare(b.primaryType)),
    structs,
  };
}

/** The build infos behind `contracts/`'s artifacts, each once. */
export async function projectBuildInfos(artifacts: Artifacts): Promise<BuildInfo[]> {
  const seen = new Map<string, BuildInfo>();
  for (const name of await artifacts.getAllFullyQualifiedNames()) {
    if (!name.startsWith("contracts/")) continue;
    const info = await artifacts.getBuildInfo(name);
    if (info) seen.set(info.id, info);
  }
  return [...seen.values()];
}

function camel(name: string): string {
  return name[0].toLowerCase() + name.slice(1);
}

function tsType(solidity: string, where: string): string {
  if (/^u?int\d*$/.test(solidity)) return "bigint";
  if (solidity === "address" || solidity === "bytes" || /^bytes\d+$/.test(solidity)) return "`0x${string}`";
  if (solidity === "string") return "string";
  if (solidity === "bool") return "boolean";
  throw new Error(`no JavaScript type for Solidity ${solidity} (${where})`);
}

function jsdoc(text: string, indent = ""): string[] {
  return text ? [`${indent}/** ${text.replace(/\*\//g, "* /")} */`] : [];
}

/**
 * The TypeScript module of `types`: enum name tables, EIP-712 field lists and struct interfaces.
 * Throws when a struct that an EIP-712 type string names has other fields than the string (the
 * contract would hash one shape and encode another).
 */
export function renderTypesModule(types: SolidityTypes): string {
  const out = [
    "// Generated from the Solidity AST (Hardhat build info) by scripts/lib/solidity-types.ts on every",
    "// compile. Do not edit: change the contracts.",
    "",
  ];
  for (const e of types.enums) {
    out.push(
      ...jsdoc(`${e.doc ? e.doc + " " : ""}\`${e.name}\` (${e.source}): value names by value.`),
      `export const ${camel(e.name)}Names = [`,
      ...e.names.flatMap((v) => [...jsdoc(v.doc, "  "), `  ${JSON.stringify(v.name)},`]),
      "] as const;",
      "",
      `/** A \`${e.name}\` value's name. */`,
      `export type ${e.name}Name = (typeof ${camel(e.name)}Names)[number];`,
      "",
    );
  }
  for (const t of types.typeHashes) {
    out.push(
      `/** EIP-712 types of \`${t.primaryType}\`, parsed from \`${t.constant}\` (${t.source}): "${t.typeString}". */`,
      `export const ${camel(t.primaryType)}Types = {`,
      ...Object.entries(t.types).flatMap(([name, fields]) => [
        `  ${name}: [`,
        ...fields.map((f) => `    { name: ${JSON.stringify(f.name)}, type: ${JSON.stringify(f.type)} },`),
        "  ],",
      ]),
      "} as const;",
      "",
    );
    const struct = types.structs.get(t.primaryType);
    if (!struct) continue;
    const fields = t.types[t.primaryType];
    const same =
      fields.length === struct.members.length &&
      fields.every((f, i) => f.name === struct.members[i].name && f.type === struct.members[i].type);
    if (!same) {
      throw new Error(
        `${t.constant} hashes ${t.primaryType}(${fields.map((f) => `${f.type} ${f.name}`).join(",")}) but the struct in ` +
          `${struct.source} is (${struct.members.map((f) => `${f.type} ${f.name}`).join(",")})`,
      );
    }
    out.push(...jsdoc(`${struct.doc} (${struct.source})`), `export type ${struct.name} = {`);
    for (const m of struct.members) {
      out.push(...jsdoc(m.doc, "  "), `  ${m.name}: ${tsType(m.type, `${struct.name}.${m.name}`)};`);
    }
    out.push("};", "");
  }
  return out.join("\n");
}
