import { runServiceMain } from "../service-main";
import { startService1 } from "./service1";

runServiceMain("service1", 7101, startService1);
