/** The status service: the deployment's status, or the answering instance's alone. */
import { InvalidArgument } from "../domain/errors.js";
import type { MethodTable } from "./context.js";

export const statusMethods: MethodTable = {
  status: {
    async get(_context, _body, { status }) {
      if (!status) throw new InvalidArgument("status is not available on this service");
      return { body: { status: await status.cluster() } };
    },

    async instance(_context, _body, { status }) {
      if (!status) throw new InvalidArgument("status is not available on this service");
      return { body: { instance: await status.instance() } };
    },
  },
};
