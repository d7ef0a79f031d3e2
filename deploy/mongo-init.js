// Run once by the compose service "mongo-init" (mongosh --host mongo:27017 /deploy/mongo-init.js).
// Makes the server a replica set of one, so the documents store gets multi-document transactions and change
// streams; running it again changes nothing. Exits 0 once the node is primary, 1 if it never becomes so.
try {
  rs.status();
  print("replica set rs0 already initiated");
} catch (error) {
  if (error.codeName !== "NotYetInitialized") {
    throw error;
  }
  rs.initiate({ _id: "rs0", members: [{ _id: 0, host: "mongo:27017" }] });
  print("replica set rs0 initiated");
}
for (let waited = 0; waited < 60; waited++) {
  if (db.hello().isWritablePrimary) {
    print("mongo:27017 is primary");
    quit(0);
  }
  sleep(1000);
}
print("mongo:27017 did not become primary within 60 s");
quit(1);
