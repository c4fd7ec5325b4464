module spooltracedemo

go 1.22
