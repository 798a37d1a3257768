/** `ctrmeta images|i`: create, ls, info, label, rm [--sync], history. */
import { Command } from "commander";
import type { ImageRecord } from "../client/services.js";
import { InvalidArgument, NotFound } from "../domain/errors.js";
import {
  AT_FLAGS,
  AT_HELP,
  forEachItem,
  formatLabels,
  parseCount,
  parseLabelArgs,
  printJson,
  printTable,
  printWarning,
  readJsonFile,
  readOptions,
  withClient,
  wrapError,
} from "./common.js";
import { formatBinarySize } from "./format.js";
import { historyCommand } from "./history.js";

interface CreateOptions {
  file?: string;
  digest?: string;
  size?: string;
  mediaType: string;
  label?: string[];
}

function imageFromOptions(name: string | undefined, options: CreateOptions): ImageRecord {
  if (options.file) {
    const value = readJsonFile(options.file) as { image?: ImageRecord } & ImageRecord;
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw new InvalidArgument(`${options.file}: expected an image object`);
    const image = value.image ?? value;
    return name ? { ...image, name } : image;
  }
  if (!name) throw new InvalidArgument("image name is required (or --file)");
  if (!options.digest || options.size === undefined) throw new InvalidArgument("--digest and --size are required without --file");
  return {
    name,
    labels: parseLabelArgs(options.label ?? []),
    target: { mediaType: options.mediaType, digest: options.digest, size: parseCount("--size", options.size) },
  };
}

export function imagesCommand(): Command {
  const command = new Command("images").aliases(["i", "image"]).description("manage image records");

  command
    .command("create")
    .description("create an image record from options or a JSON file")
    .argument("[name]", "image name, e.g. docker.io/library/nginx:1.25")
    .option("--file <file>", "JSON file with the image record, or - for stdin")
    .option("--digest <digest>", "target digest")
    .option("--size <bytes>", "target size in bytes")
    .option("--media-type <type>", "target media type", "application/vnd.oci.image.manifest.v1+json")
    .option("--label <key=value...>", "labels")
    .action(async (name: string | undefined, options: CreateOptions, cmd: Command) => {
      const image = imageFromOptions(name, options);
      await withClient(cmd, async (client) => printJson(await client.images.create(image)));
    });

  command
    .command("list")
    .alias("ls")
    .description("list images, optionally filtered")
    .argument("[filters...]", "filters such as name~=nginx")
    .option("-q, --quiet", "print only the image names")
    .option(AT_FLAGS, AT_HELP)
    .action(async (filters: string[], options: { quiet?: boolean; at?: string }, cmd: Command) => {
      const callOptions = readOptions(options);
      await withClient(cmd, async (client) => {
        const images = await client.images.list(filters, callOptions);
        if (options.quiet) {
          for (const image of images) process.stdout.write(`${image.name}\n`);
          return;
        }
        printTable(
          [
            ["REF", "TYPE", "DIGEST", "SIZE", "LABELS"],
            ...images.map((image) => [
              image.name,
              image.target?.mediaType ?? "",
              image.target?.digest ?? "",
              formatBinarySize(image.target?.size ?? 0),
              formatLabels(image.labels) || "-",
            ]),
          ],
        );
      });
    });

  command
    .command("info")
    .description("print an image record as JSON")
    .argument("<name>")
    .option(AT_FLAGS, AT_HELP)
    .action(async (name: string, options: { at?: string }, cmd: Command) => {
      const callOptions = readOptions(options);
      await withClient(cmd, async (client) => printJson(await client.images.get(name, callOptions)));
    });

  command
    .command("label")
    .description("set labels (key=value, or a bare key for key=true) and remove them (key=); prints the resulting labels")
    .argument("<name>")
    .argument("[labels...]", "key=value pairs (a bare key means key=true)")
    .option("-r, --replace-all", "replace all labels with the given ones")
    .action(async (name: string, args: string[], options: { replaceAll?: boolean }, cmd: Command) => {
      const labels = parseLabelArgs(args);
      const paths = options.replaceAll ? ["labels"] : Object.keys(labels).map((key) => `labels.${key}`);
      await withClient(cmd, async (client) => {
        // Without paths the service would replace the whole image, so no labels only prints the current ones.
        const updated = paths.length === 0 ? await client.images.get(name) : await client.images.update({ name, labels }, paths);
        process.stdout.write(`${formatLabels(updated.labels)}\n`);
      });
    });

  command
    .command("delete")
    .aliases(["rm", "del", "remove"])
    .description("delete image records and print their names; a missing image is a warning")
    .argument("<names...>")
    .option("--sync", "wait for a garbage collection after the last deletion before returning")
    .action(async (names: string[], options: { sync?: boolean }, cmd: Command) => {
      await withClient(cmd, async (client) => {
        await forEachItem(names, async (name, index) => {
          try {
            // As in ctr, one collection after the last deletion covers them all.
            await client.images.delete(name, (options.sync ?? false) && index === names.length - 1);
          } catch (error) {
            if (error instanceof NotFound) {
              printWarning(error.message);
              return;
            }
            throw wrapError(error, `unable to delete ${name}`);
          }
          process.stdout.write(`${name}\n`);
        });
      });
    });

  command.addCommand(historyCommand({ kind: "image", keyName: "name" }));

  return command;
}
