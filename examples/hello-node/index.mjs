let count = 0;

export const handler = async (event, context) => {
  count += 1;
  const name = (event && event.name) || "world";
  console.log("greeting", name);
  return {
    message: `Hello, ${name}!`,
    invocationsInThisWorker: count,
    requestId: context.awsRequestId,
  };
};
